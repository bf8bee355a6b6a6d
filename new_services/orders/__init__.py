"""The orders service: orders as the new domain sees them, a placement saga across the seam, and the
legacy-compatible orders API."""
