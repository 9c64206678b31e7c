"""Operator categories of the study's breakdown, as one data table, and the rule that applies it.

A kernel (on a GPU) or an op (on the CPU) is categorised from three things: the module scope
it ran in (the input embedding, the output projection that computes the logits, and
normalization modules are wrapped in ``edgeprobe::<category>`` profiler ranges), its own name,
and the chain of ops that launched it (innermost first, e.g. ``aten::mm < aten::matmul <
aten::linear``). No torch import: the bundle and analysis side use this module too.

The SSM kernel markers come from ``models.kernel_path``, which decides whether a model ran
the fused path from the same names; a test keeps the two in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from edgeprobe.models.kernel_path import CONV1D_MARKERS, SSM_SCAN_MARKERS

SSM_SCAN = "SSM_Scan"
GEMM = "GEMM"
ATTENTION = "attention"
NORMALIZATION = "normalization"
ACTIVATION = "activation"
ARITHMETIC = "arithmetic"
MEMORY = "memory"
EMBEDDING = "embedding"
LOGITS = "logits"
OTHER = "other"

# Display and storage order.
CATEGORIES = (SSM_SCAN, GEMM, ATTENTION, NORMALIZATION, ACTIVATION, ARITHMETIC, MEMORY,
              EMBEDDING, LOGITS, OTHER)

# Profiler ranges opened around modules during the profiling pass (see profiling.scopes).
SCOPE_PREFIX = "edgeprobe::"
SCOPED_CATEGORIES = (EMBEDDING, LOGITS, NORMALIZATION)
# Modules whose class name ends like this are normalization layers (Qwen2RMSNorm,
# MambaRMSNormGated, LayerNorm, mamba_ssm's RMSNorm and RMSNormGated, ...).
NORM_MODULE_PATTERN = re.compile(r"norm(gated)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    category: str
    # aten op base names: without "aten::" and without the in-place "_" suffix.
    ops: frozenset[str] = frozenset()
    # Lower-case substrings of kernel names and of non-aten op names (custom ops).
    markers: tuple[str, ...] = ()


def _ops(text: str) -> frozenset[str]:
    return frozenset(text.split())


# 1. Composite operators: decided by the name or any op on the launch chain, in this order,
#    so that helper kernels inside them (layout copies in SDPA, the index kernel of an
#    embedding) count with the operator. The only convolutions in these models are the SSM
#    mixers' causal conv1d, so reference convolutions count as SSM_Scan, as the study's
#    category includes causal conv1d.
COMPOSITE_RULES = (
    Rule(SSM_SCAN,
         _ops("conv1d conv2d convolution _convolution cudnn_convolution mkldnn_convolution "
              "_conv_depthwise2d _slow_conv2d_forward thnn_conv2d slow_conv_dilated2d "
              "_nnpack_spatial_convolution"),
         (*SSM_SCAN_MARKERS, *CONV1D_MARKERS, "chunk_scan", "chunk_state", "state_passing",
          "selective_scan", "ssd_", "convolve")),
    Rule(ATTENTION,
         _ops("scaled_dot_product_attention _scaled_dot_product_flash_attention "
              "_scaled_dot_product_efficient_attention _scaled_dot_product_cudnn_attention "
              "_scaled_dot_product_attention_math _scaled_dot_product_flash_attention_for_cpu "
              "_flash_attention_forward _efficient_attention_forward"),
         ("attention", "flash", "fmha", "sdpa", "attn")),
    Rule(EMBEDDING, _ops("embedding embedding_bag _embedding_bag")),
    Rule(NORMALIZATION,
         _ops("layer_norm native_layer_norm rms_norm _fused_rms_norm group_norm "
              "native_group_norm batch_norm native_batch_norm _batch_norm_impl_index "
              "instance_norm"),
         ("layer_norm", "layernorm", "rms_norm", "rmsnorm", "group_norm", "batch_norm",
          "rowwisemoments")),
)

# 2. Data movement, by the kernel's (or CPU op's) own name only: a layout copy made inside a
#    matmul is memory traffic, not GEMM.
DATA_MOVEMENT = Rule(
    MEMORY,
    _ops("copy _to_copy clone contiguous cat concat concatenate stack index index_select "
         "index_put _index_put_impl gather scatter scatter_add take masked_select repeat "
         "repeat_interleave"),
    ("memcpy", "memset", "copy_kernel", "catarray", "index_select", "indexselect",
     "index_elementwise", "gather", "scatter"),
)

# 3. Matrix products: the name or any op on the chain.
GEMM_RULE = Rule(
    GEMM,
    _ops("mm bmm addmm addmv mv matmul linear baddbmm addbmm einsum dot vdot tensordot "
         "_addmm_activation _int_mm _scaled_mm bilinear"),
    ("gemm", "gemv", "nvjet", "cublas", "cutlass", "xmma", "splitkreduce", "matmul"),
)

# 4. Everything else by op: the name itself if it is an op, then the launching ops, innermost
#    first. View and creation ops count as memory (layout and allocation).
LEAF_RULES = (
    Rule(ACTIVATION,
         _ops("silu gelu relu relu6 softplus sigmoid tanh softmax _softmax log_softmax "
              "_log_softmax glu hardswish hardsigmoid hardtanh mish elu selu celu leaky_relu "
              "prelu logsigmoid threshold")),
    Rule(ARITHMETIC,
         _ops("add sub rsub mul div true_divide floor_divide remainder fmod neg abs pow sqrt "
              "rsqrt exp exp2 expm1 log log1p log2 sin cos reciprocal square mean sum prod "
              "cumsum cumprod logcumsumexp logsumexp max min amax amin maximum minimum clamp "
              "clamp_min clamp_max clip where masked_fill eq ne lt le gt ge logical_and "
              "logical_or logical_not bitwise_and bitwise_or bitwise_not argmax argmin topk "
              "sort var std var_mean norm linalg_vector_norm addcmul addcdiv lerp sign sgn "
              "floor ceil round trunc triu tril isnan isinf any all erf nan_to_num outer "
              "xlogy")),
    Rule(MEMORY,
         DATA_MOVEMENT.ops | _ops(
             "to narrow narrow_copy slice select view reshape _reshape_alias _unsafe_view "
             "view_as flatten unflatten squeeze unsqueeze transpose permute t expand "
             "expand_as as_strided split split_with_sizes chunk unbind flip roll pad "
             "constant_pad_nd zero zeros zeros_like ones ones_like full full_like empty "
             "empty_like empty_strided new_empty new_empty_strided new_zeros new_ones "
             "new_full fill arange linspace detach alias lift lift_fresh lift_fresh_copy "
             "resize set item _local_scalar_dense movedim swapaxes diagonal unfold "
             "scalar_tensor nonzero")),
)

# 5. Kernels that no op explains (launched straight from Python, e.g. Triton), by name.
KERNEL_FALLBACK_RULES = (
    Rule(ACTIVATION, markers=("silu", "gelu", "softplus", "sigmoid", "tanh", "relu",
                              "softmax")),
    Rule(MEMORY, markers=("copy", "fill")),
    Rule(ARITHMETIC, markers=("elementwise", "reduce")),
)


def scope_range_name(category: str) -> str:
    """Name of the profiler range that marks a module scope of ``category``."""
    return f"{SCOPE_PREFIX}{category}"


def scope_of(range_name: str) -> str | None:
    """The category of an ``edgeprobe::<category>`` range, or None for any other range."""
    if not range_name.startswith(SCOPE_PREFIX):
        return None
    category = range_name[len(SCOPE_PREFIX):]
    return category if category in SCOPED_CATEGORIES else None


def aten_base(name: str) -> str | None:
    """``aten::add_`` -> ``add``; None for names that are not aten ops."""
    if not name.startswith("aten::"):
        return None
    base = name[len("aten::"):]
    return base[:-1] if base.endswith("_") and not base.endswith("__") else base


def matches(rule: Rule, name: str) -> bool:
    base = aten_base(name)
    if base is not None and base in rule.ops:
        return True
    lowered = name.lower()
    return any(marker in lowered for marker in rule.markers)


def categorize(name: str, launched_by: Sequence[str] = (), scope: str | None = None) -> str:
    """Category of one kernel or op.

    ``name`` is a device kernel's name (GPU) or an op's name (CPU); ``launched_by`` the ops
    around it, innermost first; ``scope`` the category of the innermost module scope.
    """
    if scope is not None and scope in SCOPED_CATEGORIES:
        return scope
    chain = (name, *launched_by)
    for rule in COMPOSITE_RULES:
        if any(matches(rule, n) for n in chain):
            return rule.category
    if matches(DATA_MOVEMENT, name):
        return MEMORY
    if any(matches(GEMM_RULE, n) for n in chain):
        return GEMM
    for n in chain:
        if aten_base(n) is None:
            continue
        for rule in LEAF_RULES:
            if matches(rule, n):
                return rule.category
    for rule in KERNEL_FALLBACK_RULES:
        if matches(rule, name):
            return rule.category
    return OTHER

