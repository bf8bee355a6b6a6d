"""FastAPI services extracted from the monolith, one package per bounded context, each with its own database."""
