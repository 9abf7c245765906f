parameters {
  real mu;
}
model {
  mu ~ normal(1, 2);
}
generated quantities {
  real mu2 = mu * mu;
}
