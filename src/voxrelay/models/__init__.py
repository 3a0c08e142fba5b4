"""ChatModel backends: the local llama.cpp default and OpenAI-compatible endpoints."""
