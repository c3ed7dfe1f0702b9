"""A simulated GPU inference server: roofline step times, a continuous-batching engine, vLLM's API.

Pure parts: ``model`` (step time), ``engine`` (scheduler), ``presets``, ``virtual`` (virtual-time
runs), ``text``, ``tokens``, ``protocol``, ``responses``. I/O: ``stepper`` (asyncio clock),
``api`` and ``server`` (aiohttp), ``cli``. Nothing is imported here, so the pure parts stay pure.
"""
