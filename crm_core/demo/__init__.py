"""Generated demo CRM: coherent history with real but noisy signal for the models to find."""

from crm_core.demo.generator import DemoConfig, generate
from crm_core.demo.loader import load_demo_data

__all__ = ["DemoConfig", "generate", "load_demo_data"]
