transformed data { matrix[4, 2] X = [[1, 0.5], [0.2, -1], [0.3, 0.3], [-1, 2]]; array[4] int y = {0, 1, 1, 0}; array[4] int c = {0, 3, 1, 2}; }
parameters { real a; vector[2] b; real<lower=0> phi; }
model { y ~ bernoulli_logit_glm(X, a, b); c ~ poisson_log(a + X * b); c ~ neg_binomial_2_log(a + X * b, phi); b ~ normal(0, 1); }
