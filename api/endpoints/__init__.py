"""The routers of the runtime API, one module per resource."""
