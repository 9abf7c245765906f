data { int N; real y[N]; }
model { y ~ normal(0, 1) T[0, ]; target += normal_lpdf(y, 0, 1); x <- 1; }
