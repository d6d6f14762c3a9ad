# The soak: many concurrent clients against napd while apps deploy and go.
