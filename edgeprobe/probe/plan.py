"""What a run will do: models x implementations x lengths x prefill variants."""

from __future__ import annotations

from dataclasses import dataclass

from edgeprobe.suite.presets import IMPL_HF, IMPL_MAMBA_SSM, ModelPreset
from edgeprobe.suite.suites import Suite


@dataclass(frozen=True)
class ModelPlan:
    preset: ModelPreset
    implementation: str
    lengths: tuple[int, ...]
    variants: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.preset.name}/{self.implementation}"

    @property
    def points(self) -> int:
        return len(self.lengths) * len(self.variants)


@dataclass(frozen=True)
class PlanNote:
    model: str
    message: str


def implementations_for(preset: ModelPreset, choice: str, mamba_ssm_ok: bool) -> tuple[
        list[str], str | None]:
    """Implementations to run for one preset, and a note when the choice cannot be honoured."""
    if choice == IMPL_HF:
        return [IMPL_HF], None
    has_own = IMPL_MAMBA_SSM in preset.implementations
    if choice == IMPL_MAMBA_SSM:
        if not has_own:
            return [], f"{preset.name} has no mamba_ssm implementation: skipped"
        if not mamba_ssm_ok:
            return [], f"{preset.name}: mamba_ssm cannot run on this device: skipped"
        return [IMPL_MAMBA_SSM], None
    if choice == "both":
        if has_own and mamba_ssm_ok:
            return [IMPL_HF, IMPL_MAMBA_SSM], None
        note = (f"{preset.name}: mamba_ssm cannot run on this device: HF only"
                if has_own else None)
        return [IMPL_HF], note
    # "study": what the study ran, where it can run here.
    if preset.study_implementation == IMPL_MAMBA_SSM and not mamba_ssm_ok:
        return [IMPL_HF], (f"{preset.name}: the study ran mamba_ssm's own model, which cannot "
                           "run on this device: using HF transformers")
    return [preset.study_implementation], None


def make_plan(suite: Suite, mamba_ssm_ok: bool) -> tuple[list[ModelPlan], list[PlanNote]]:
    plans: list[ModelPlan] = []
    notes: list[PlanNote] = []
    for preset in suite.presets():
        impls, note = implementations_for(preset, suite.implementation, mamba_ssm_ok)
        if note:
            notes.append(PlanNote(preset.name, note))
        for impl in impls:
            plans.append(ModelPlan(preset, impl, suite.lengths_for(preset), suite.variants))
    return plans, notes


def decode_variant(variants: tuple[str, ...]) -> str:
    """Decode speed does not depend on the prefill variant: measure it once, after lean."""
    return "lean" if "lean" in variants else variants[0]
