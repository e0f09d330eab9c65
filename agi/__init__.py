"""Standalone FastAGI daemon: sans-I/O parser, asyncio server, batched event writer."""
