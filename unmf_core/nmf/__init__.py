"""NMF maths: the β-divergence MU kernels (:mod:`.kernels`), their time-chunked runs (:mod:`.chunking`) and the
unrolled network (:mod:`.unrolled`)."""
