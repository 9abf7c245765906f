// Eight schools (Rubin 1981): effects of coaching programs on test scores in eight
// schools, with a hierarchical normal model in the non-centred parameterisation.
data {
  int<lower=0> J;                // number of schools
  array[J] real y;               // estimated effects
  array[J] real<lower=0> sigma;  // their standard errors
}
parameters {
  real mu;                       // population mean effect
  real<lower=0> tau;             // population sd of the effects
  vector[J] theta_tilde;         // standardised school effects
}
transformed parameters {
  vector[J] theta = mu + tau * theta_tilde;
}
model {
  mu ~ normal(0, 5);
  tau ~ cauchy(0, 5);
  theta_tilde ~ std_normal();
  y ~ normal(theta, sigma);
}
