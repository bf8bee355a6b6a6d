"""Export the route table to other data planes (nginx) for production scale; pure renderers, no I/O."""
