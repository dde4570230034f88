"""Generated demo CRM: coherent history with real but noisy signal for the models to find."""

from crm_core.demo.generator import DemoConfig, generate

__all__ = ["DemoConfig", "generate"]
