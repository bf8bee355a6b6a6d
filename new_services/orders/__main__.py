"""`python -m new_services.orders [--host 127.0.0.1] [--port 8102]` — run the service under uvicorn."""
from new_services.common.entry import run

if __name__ == "__main__":
    run("orders", 8102)
