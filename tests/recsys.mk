# Recommendation backends: retrieval op, fixtures, tests, benchmark
