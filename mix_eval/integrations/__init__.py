"""MixEval inside other evaluation frameworks (Inspect, lm-evaluation-harness) and their
runs brought back as response folders. Each framework is imported only by the modules
named after it, and only when used: nothing else in the package needs it installed."""
