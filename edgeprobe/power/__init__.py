"""Power modes (nvpmodel, jetson_clocks, NVML power limit) and the thermal guard."""
