transformed data {
  int n = 0;
  array[3] int idx = {3, 1, 2};
  vector[3] v = [1, 2, 3]';
  while (n < 10) { n += 1; if (n % 2 == 0) continue; else if (n > 7) break; }
  for (i in idx) { v[i] *= 2; }
  for (x in v) { print(x); }
  profile("p") { v = v[idx] .* v ./ v .^ 2; }
  if (n %/% 2 > 1 && !(n == 3) || n != 4) reject("n = ", n);
}
