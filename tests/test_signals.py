"""The first Ctrl-C, SIGTERM or SIGHUP stops a run; later ones are acknowledged, not fatal."""

from __future__ import annotations

import os
import signal

import pytest

from edgeprobe.signals import Interrupted, interruptible


def test_first_signal_interrupts_later_ones_are_acknowledged(capsys):
    cleaned_up = False
    with pytest.raises(Interrupted) as stop, interruptible():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            # Clean-up (the footer, the power restore) runs through more signals.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                os.kill(os.getpid(), sig)
            cleaned_up = True
    assert stop.value.signal_name == "SIGTERM" and cleaned_up
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["Ctrl-C", "SIGTERM", "SIGHUP"]
    assert all("already stopping" in line for line in lines)
    # Outside the block the usual handlers are back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_is_named_as_such():
    with pytest.raises(Interrupted) as stop, interruptible():
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.value.signal_name == "Ctrl-C"
    assert isinstance(stop.value, KeyboardInterrupt)
