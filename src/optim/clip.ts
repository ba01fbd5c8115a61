// Gradient clipping by global L2 norm, as D2L's grad_clipping: g <- min(theta / ||g||, 1) * g over
// ALL parameters at once. The step folds the factor into the optimizer's update (SGD: p -= lr *
// factor * g; momentum and Adam take factor * g as their gradient), so the clipped gradient is never
// materialized.

/** The factor that scales g to norm min(||g||, theta); 1 when ||g|| <= theta (and for ||g|| = 0). */
export function clipFactor(norm: number, theta: number): number {
  return norm > theta ? theta / norm : 1;
}
