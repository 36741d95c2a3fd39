"""The platform: FastAPI REST and TAXII 2.1 over the store, with tenancy, incidents, advisories
and sharing (``create_app`` in ``api.main``; ``icssa serve`` in ``api.cli``)."""
