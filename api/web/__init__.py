"""The web app: server-rendered pages for researchers, platform operators and policy staff.

Pages call the same ``matcher`` services as the JSON API; this package only turns forms into service calls and
results into HTML (Jinja2, plus htmx for partial updates, both served from here: no CDN, no build step).
"""
