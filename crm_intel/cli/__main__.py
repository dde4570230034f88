from crm_intel.cli.main import app

app()
