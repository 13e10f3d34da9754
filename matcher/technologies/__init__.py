"""Technologies submitted by researchers, and the service functions that store and match them."""
