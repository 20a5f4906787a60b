"""Every LLM the engine talks to: the gateway (OpenAI-compatible client, response cache,
budget), the embedded llama.cpp server and its model files."""
