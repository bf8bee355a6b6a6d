"""`python -m new_services.catalog [--host 127.0.0.1] [--port 8101]` — run the service under uvicorn."""
from new_services.common.entry import run

if __name__ == "__main__":
    run("catalog", 8101)
