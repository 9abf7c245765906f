transformed data { int n = 0; while (n < 5) n += 1; }
parameters { vector[n] x; }
model {
  real acc = 0;
  for (i in 1:n) { if (i == 3) continue; acc += x[i]; if (acc > 100) break; }
  for (xi in x) acc += xi ^ 2;
  { vector[n] w = cumulative_sum(x); acc += w[n]; }
  target += -acc * acc / 10;
  x ~ std_normal();
}
