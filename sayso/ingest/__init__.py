"""The public API that browsers and apps call: feedback now; screenshots, replay, identify next."""
