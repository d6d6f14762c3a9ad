# Limits, access and secrets: sizes enforced with clear errors, env values never logged.
