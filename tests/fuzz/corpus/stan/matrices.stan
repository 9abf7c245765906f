data {
  int<lower=0> N; int<lower=1> K;
  matrix[N, K] X; array[N] int<lower=0, upper=1> y; cov_matrix[K] S;
}
transformed data {
  matrix[K, K] L = cholesky_decompose(S);
  row_vector[K] m = columns_dot_self(X) / N;
  array[2, K] real a2 = {to_array_1d(m), to_array_1d(m')};
}
parameters {
  real alpha; vector<offset=0, multiplier=2>[K] beta;
  cholesky_factor_corr[K] Lc; positive_ordered[2] p;
}
model {
  beta ~ multi_normal_cholesky(rep_vector(0, K), diag_pre_multiply(p[1] * rep_vector(1, K), Lc));
  Lc ~ lkj_corr_cholesky(2);
  y ~ bernoulli_logit_glm(X, alpha, beta);
  target += -0.5 * dot_self(X[1:2, :] * beta) + (K > 2 ? sum(a2[1, 2:]) : 0);
}
