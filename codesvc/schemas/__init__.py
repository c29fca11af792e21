"""The wire: every JSON shape the HTTP API takes or gives, as pydantic models.

A request body is validated by exactly the model its route declares, and the OpenAPI
document is generated from the same models, so the schema served is the one enforced.
The service layer uses these models too (an event is validated here and only here);
nothing in this package does I/O or knows about aiohttp.
"""
