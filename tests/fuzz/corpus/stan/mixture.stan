// Two-component normal mixture with an ordered location and a simplex weight.
data {
  int<lower=1> N;
  vector[N] y;
}
parameters {
  ordered[2] mu;
  simplex[2] w;
  array[2] real<lower=0> sigma;
}
model {
  mu ~ normal(0, 10);
  sigma ~ lognormal(0, 1);
  for (n in 1:N) {
    target += log_mix(w[1], normal_lpdf(y[n] | mu[1], sigma[1]),
                      normal_lpdf(y[n] | mu[2], sigma[2]));
  }
}
generated quantities {
  array[N] real y_rep = normal_rng(rep_vector(mu[1], N), sigma[1]);
}
