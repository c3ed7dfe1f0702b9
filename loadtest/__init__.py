"""Load generation, measurement and reports, and a simulated GPU inference server."""
