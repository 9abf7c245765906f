parameters { real x; real<lower=0> y; real<lower=-1, upper=1> p; }
transformed parameters { real z = x * y + p; }
model { x ~ normal(0, 1); y ~ gamma(2, 2); target += log1p_exp(z) + lbeta(y + 1, 2) + fmod(y + 3, 2); }
