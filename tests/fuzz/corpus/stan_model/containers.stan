transformed data { vector[3] c = [1, 2, 3]'; array[2, 2] int k = {{1, 2}, {2, 1}}; matrix[2, 2] A = to_matrix(c[1:2] * c[1:2]'); }
parameters { vector[3] v; simplex[3] s; array[2] ordered[2] o; cholesky_factor_corr[2] L; cov_matrix[2] S; }
transformed parameters { array[2] vector[3] av; av[1] = v; av[2] = s .* c; }
model {
  matrix[2, 2] M = L * L';
  for (i in 1:2) for (j in 1:2) target += M[i, j] * A[k[i, j], j] / 10;
  v ~ normal(0, 1);
  target += dirichlet_lpdf(s | c) + multi_normal_lpdf(v[1:2] | o[1], S) + lkj_corr_cholesky_lpdf(L | 2);
  target += log_sum_exp(av[2]) + sum(sort_desc(v)) + max(v) + sd(v) + dot_self(av[1]);
}
