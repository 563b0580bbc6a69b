"""MixEval inside other evaluation frameworks (Inspect, lm-evaluation-harness), and their
runs brought back as response folders of this package. Each framework is an optional
extra, imported only by the module of its integration."""
