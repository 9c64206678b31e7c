"""Discrete NVIDIA GPUs through NVML (nvidia-ml-py): power, energy, temperature, clocks, memory.

Power: ``nvmlDeviceGetPowerUsage`` is a 1 s average on recent GPUs, so ``gpu_power_w`` comes
from the instantaneous field (``NVML_FI_DEV_POWER_INSTANT``) where the driver has it. The
energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ) is the best energy source.
On Tegra (Jetson) NVML answers "not supported" for power, clocks and memory: not used there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from edgeprobe.telemetry.base import FLOAT64, UINT32, Metric, Source, gauge
from edgeprobe.telemetry.platform import is_jetson

T = TypeVar("T")

# NVML clock-event ("throttle") reason bits, from nvml.h.
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x001, "gpu_idle"),
    (0x002, "applications_clocks_setting"),
    (0x004, "sw_power_cap"),
    (0x008, "hw_slowdown"),
    (0x010, "sync_boost"),
    (0x020, "sw_thermal_slowdown"),
    (0x040, "hw_thermal_slowdown"),
    (0x080, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
MASK_COLUMN = "gpu_clock_event_mask"

Reader = Callable[[dict[str, float]], None]


def query_gpu(read: Callable[[Any, Any], T], index: int = 0) -> T | None:
    """One answer from NVML about GPU ``index`` (init, read, shut down), or None where NVML
    is missing, there is no GPU, or the call is not supported (Tegra)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        return read(pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def pci_bus_id(domain: int, bus: int, device: int) -> str:
    """The bus id NVML opens a GPU by (``nvmlDeviceGetHandleByPciBusId``), from the numbers
    CUDA reports. CUDA's ordinals follow CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER, NVML's
    indices never do: only the bus id names the same GPU to both."""
    return f"{domain:08X}:{bus:02X}:{device:02X}.0"


def decode_clock_events(mask: int) -> list[str]:
    """Names of the reasons set in an NVML clock-event bitmask (unknown bits as ``bit_0x..``)."""
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = 0
    for bit, _ in CLOCK_EVENT_REASONS:
        known |= bit
    rest = mask & ~known
    bit = 1
    while rest:
        if rest & bit:
            names.append(f"bit_{bit:#x}")
            rest &= ~bit
        bit <<= 1
    return names


def _field_value(pynvml: Any, handle: Any, field_id: int) -> float:
    value = pynvml.nvmlDeviceGetFieldValues(handle, [field_id])[0]
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise pynvml.NVMLError(value.nvmlReturn)
    kind = value.valueType
    union = value.value
    if kind == pynvml.NVML_VALUE_TYPE_DOUBLE:
        return float(union.dVal)
    if kind == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return float(union.ullVal)
    if kind == pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return float(union.sllVal)
    if kind == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG:
        return float(union.ulVal)
    if kind == pynvml.NVML_VALUE_TYPE_SIGNED_INT:
        return float(union.siVal)
    return float(union.uiVal)


class NvmlSource(Source):
    """One GPU, chosen by NVML index or PCI bus id (``"0000:65:00.0"``)."""

    name = "nvml"

    def __init__(self, gpu: int | str = 0) -> None:
        super().__init__()
        self.gpu = gpu
        self._nvml: Any = None
        self._handle: Any = None
        self._readers: list[tuple[str, Reader]] = []
        self._facts: dict[str, Any] = {}

    # -- opening --------------------------------------------------------------------------
    def open(self) -> list[Metric]:
        if is_jetson():
            self.unavailable("nvml", "Tegra (Jetson): NVML answers 'not supported' for power, "
                             "clocks and memory here; the jetson source reads them instead")
            return []
        try:
            import pynvml
        except ImportError:
            self.unavailable("nvml", "nvidia-ml-py is not installed",
                             fix="pip install nvidia-ml-py (it comes with edgeprobe[probe])")
            return []
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self.unavailable("nvml", _init_failure(pynvml, exc),
                             fix="install the NVIDIA driver (nvidia-smi must work)")
            return []
        self._nvml = pynvml
        try:
            self._handle = (pynvml.nvmlDeviceGetHandleByPciBusId(self.gpu)
                            if isinstance(self.gpu, str)
                            else pynvml.nvmlDeviceGetHandleByIndex(self.gpu))
        except pynvml.NVMLError as exc:
            self.unavailable("nvml", f"no GPU {self.gpu!r} ({exc})")
            self.close()
            return []
        self._facts = self._read_facts()
        self.ok("nvml", f"GPU {self.gpu}: {self._facts.get('gpu_name', '?')}, driver "
                        f"{self._facts.get('driver_version', '?')}")
        return self._probe_all()

    def _read_facts(self) -> dict[str, Any]:
        pynvml, facts = self._nvml, {}
        for key, call in (("gpu_name", lambda: pynvml.nvmlDeviceGetName(self._handle)),
                          ("driver_version", pynvml.nvmlSystemGetDriverVersion),
                          ("cuda_driver_version", pynvml.nvmlSystemGetCudaDriverVersion)):
            try:
                facts[key] = call()
            except pynvml.NVMLError:
                continue
        if "cuda_driver_version" in facts:  # 13000 -> "13.0"
            version = int(facts["cuda_driver_version"])
            facts["cuda_driver_version"] = f"{version // 1000}.{version % 1000 // 10}"
        return facts

    def _candidates(self) -> list[tuple[str, list[Metric], Reader, str]]:
        pynvml, handle = self._nvml, self._handle

        def power_instant(values: dict[str, float]) -> None:
            milliwatts = _field_value(pynvml, handle, pynvml.NVML_FI_DEV_POWER_INSTANT)
            values["gpu_power_w"] = milliwatts / 1000.0

        def power_average(values: dict[str, float]) -> None:
            values["gpu_power_avg_w"] = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0

        def energy(values: dict[str, float]) -> None:
            values["gpu_energy_j"] = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0

        def temperature(values: dict[str, float]) -> None:
            try:
                temp = pynvml.nvmlDeviceGetTemperatureV(handle, pynvml.NVML_TEMPERATURE_GPU)
            except pynvml.NVMLError_FunctionNotFound:  # drivers before the versioned call
                temp = pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
            values["gpu_temp_c"] = float(temp)

        def clocks_sm(values: dict[str, float]) -> None:
            values["gpu_sm_clock_mhz"] = pynvml.nvmlDeviceGetClockInfo(handle,
                                                                       pynvml.NVML_CLOCK_SM)

        def clocks_mem(values: dict[str, float]) -> None:
            values["gpu_mem_clock_mhz"] = pynvml.nvmlDeviceGetClockInfo(handle,
                                                                        pynvml.NVML_CLOCK_MEM)

        def clock_events(values: dict[str, float]) -> None:
            try:
                mask = pynvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
            except pynvml.NVMLError_FunctionNotFound:  # drivers before the rename
                mask = pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
            values[MASK_COLUMN] = float(mask)

        def memory(values: dict[str, float]) -> None:
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            values["gpu_mem_used_bytes"] = float(info.used)
            values["gpu_mem_total_bytes"] = float(info.total)

        def utilization(values: dict[str, float]) -> None:
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            values["gpu_util_pct"] = float(rates.gpu)
            values["gpu_mem_util_pct"] = float(rates.memory)

        def power_limit(values: dict[str, float]) -> None:
            values["gpu_power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0

        return [
            ("power_instant", [gauge("gpu_power_w")], power_instant,
             "nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)"),
            ("power_average", [gauge("gpu_power_avg_w")], power_average,
             "nvmlDeviceGetPowerUsage (1 s average on recent GPUs)"),
            ("energy_counter", [Metric("gpu_energy_j", FLOAT64, counter=True)], energy,
             "nvmlDeviceGetTotalEnergyConsumption"),
            ("temperature", [gauge("gpu_temp_c")], temperature, "nvmlDeviceGetTemperature"),
            ("sm_clock", [gauge("gpu_sm_clock_mhz")], clocks_sm, "nvmlDeviceGetClockInfo(SM)"),
            ("memory_clock", [gauge("gpu_mem_clock_mhz")], clocks_mem,
             "nvmlDeviceGetClockInfo(MEM)"),
            ("clock_events", [Metric(MASK_COLUMN, UINT32)], clock_events,
             "nvmlDeviceGetCurrentClocksEventReasons"),
            ("memory", [gauge("gpu_mem_used_bytes"), gauge("gpu_mem_total_bytes")], memory,
             "nvmlDeviceGetMemoryInfo"),
            ("utilization", [gauge("gpu_util_pct"), gauge("gpu_mem_util_pct")], utilization,
             "nvmlDeviceGetUtilizationRates"),
            ("power_limit", [gauge("gpu_power_limit_w")], power_limit,
             "nvmlDeviceGetEnforcedPowerLimit"),
        ]

    def _probe_all(self) -> list[Metric]:
        metrics: list[Metric] = []
        pynvml = self._nvml
        for sensor, sensor_metrics, reader, where in self._candidates():
            try:
                reader({})
            except pynvml.NVMLError as exc:
                self.unavailable(sensor, _call_failure(pynvml, exc, where))
                continue
            except Exception as exc:  # a binding that does not match the driver
                self.unavailable(sensor, f"{where}: {type(exc).__name__}: {str(exc)[:100]}")
                continue
            self.ok(sensor, where)
            self._readers.append((sensor, reader))
            metrics += sensor_metrics
        if "power_instant" not in dict(self._readers) and "power_average" in dict(self._readers):
            # Without the instantaneous field the 1 s average is the best power there is.
            self._readers.append(("power_instant", _copy_average))
            self.ok("power_instant", "instantaneous power not supported: gpu_power_w is the "
                    "1 s average from nvmlDeviceGetPowerUsage")
            metrics.append(gauge("gpu_power_w"))
        return metrics

    # -- sampling ---------------------------------------------------------------------------
    def read(self, values: dict[str, float]) -> None:
        pynvml = self._nvml
        for sensor, reader in self._readers:
            if self.is_lost(sensor):
                continue
            try:
                reader(values)
            except pynvml.NVMLError as exc:
                self.lose(sensor, f"NVML error: {exc}")
            except Exception as exc:
                self.lose(sensor, f"{type(exc).__name__}: {str(exc)[:100]}")

    def facts(self) -> dict[str, Any]:
        return dict(self._facts)

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):  # a half-open library: nothing left to do
                self._nvml.nvmlShutdown()
            self._nvml = None
            self._readers = []


def _copy_average(values: dict[str, float]) -> None:
    if "gpu_power_avg_w" in values:
        values["gpu_power_w"] = values["gpu_power_avg_w"]


def _init_failure(pynvml: Any, exc: Exception) -> str:
    value = getattr(exc, "value", None)
    if value == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "libnvidia-ml.so.1 not found: no NVIDIA driver on this machine"
    if value == pynvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "the NVIDIA kernel driver is not loaded"
    if value == pynvml.NVML_ERROR_NO_PERMISSION:
        return "no permission to open the NVIDIA device files"
    return f"NVML did not start: {exc}"


def _call_failure(pynvml: Any, exc: Exception, where: str) -> str:
    value = getattr(exc, "value", None)
    if value == pynvml.NVML_ERROR_NOT_SUPPORTED:
        return f"not supported by this GPU or driver ({where})"
    if value == pynvml.NVML_ERROR_FUNCTION_NOT_FOUND:
        return f"this driver's NVML lacks {where.split('(')[0]} (driver too old)"
    if value == pynvml.NVML_ERROR_NO_PERMISSION:
        return f"no permission ({where})"
    return f"{where}: {exc}"
