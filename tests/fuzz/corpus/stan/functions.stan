functions {
  real fact(int n);
  real fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }
  vector center(vector x) { return x - mean(x); }
  real shifted_lpdf(real y, real mu) { return normal_lupdf(y | mu, 1); }
  real bump_lp(real x) { target += -square(x); return x; }
  void show(data real x) { print("x = ", x); }
}
data { real d; vector[3] v; }
transformed data { vector[3] c = center(v); show(d); }
parameters { real mu; }
transformed parameters { real b = bump_lp(mu); }
model { mu ~ shifted(fact(3)); target += shifted_lupdf(d | mu); }
