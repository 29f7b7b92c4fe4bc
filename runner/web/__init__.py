"""The web app: candidates take challenges and assessors review runs in a browser; firms
connect their systems through the JSON API under /api/. Server-rendered pages, no build step."""
