// Fused forward + loss + backward of G one-hidden-layer networks (see scalinglaws/fused.py).
//
// Network g maps x_p (d_in) through z = W1^T x_p + b1, h = act(z), f = W2^T h + b2 and has the
// loss L_g = sum_{p,o} w[g,o,p] (f_o(x_p) - y[g,o,p])^2.  With go = 2 w (f - y):
//   dL/dW2[j,o] = sum_p h_j go_o,  dL/db2 = sum_p go,  gz_j = (sum_o go_o W2[j,o]) act'(z_j),
//   dL/dW1[k,j] = sum_p x_k gz_j,  dL/db1 = sum_p gz.
//
// Data are feature-major (x: d_in x n, y and w: d_out x n), so the vector lanes run over the
// points: every inner loop is a long, unit-stride loop over p, whatever the width N.  Two
// passes per network: (1) for each neuron, accumulate its contribution to the outputs of all
// points; (2) for each neuron, recompute its activation and reduce its gradients over the points
// (register accumulators, one horizontal sum per neuron).  Recomputing the activation costs one
// more exp per neuron-point and saves storing the (points x neurons) hidden layer.
//
// Plain C++ (standard headers only), so it compiles in about a second; exp is a branch-free
// polynomial that vectorises (relative error below 2 ulp), so no vector math library is needed.
// Networks are spread over threads with OpenMP.
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

enum Act { SILU = 0, RELU = 1, LEAKY_RELU = 2, TANH = 3 };

// Taylor coefficients 1/i! of e^r, computed at compile time
template <typename T, int D>
struct Taylor {
    T c[D + 1];
    constexpr Taylor() : c() {
        T f = T(1);
        c[0] = T(1);
        for (int i = 1; i <= D; ++i) {
            f = f / T(i);
            c[i] = f;
        }
    }
};

template <typename T> struct ExpConst;
template <> struct ExpConst<float> {
    static constexpr float lo = -87.0f, hi = 88.0f;
    static constexpr int deg = 7, bias = 127, mant = 23;
    using I = int32_t;
};
template <> struct ExpConst<double> {
    static constexpr double lo = -707.0, hi = 708.0;
    static constexpr int deg = 13, bias = 1023, mant = 52;
    using I = int64_t;
};

// exp(x) = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2, and e^r by its Taylor polynomial
// (degree 7 for float, 13 for double: truncation below half an ulp)
template <typename T>
static inline T vexp(T x) {
    using C = ExpConst<T>;
    using I = typename C::I;
    constexpr Taylor<T, C::deg> t{};
    x = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
    const T log2e = T(1.4426950408889634), ln2_hi = T(0.693145751953125),
            ln2_lo = T(1.4286068203094172321e-6);
    T fn = x * log2e;
    fn = fn < T(0) ? fn - T(0.5) : fn + T(0.5);
    const I n = (I)fn;
    const T nf = (T)n;
    const T r = (x - nf * ln2_hi) - nf * ln2_lo;
    T p = t.c[C::deg];
    for (int i = C::deg - 1; i >= 0; --i) p = p * r + t.c[i];
    const I bits = (I)(n + C::bias) << C::mant;
    T scale;
    std::memcpy(&scale, &bits, sizeof(T));
    return p * scale;
}

// the activation h = act(z) and its derivative d = act'(z), as autograd computes them
template <typename T, int ACT>
static inline void activate(T slope, T z, T& h, T& d) {
    if (ACT == SILU) {
        const T s = T(1) / (T(1) + vexp<T>(-z));
        h = z * s;
        d = s * (T(1) + z * (T(1) - s));
    } else if (ACT == RELU) {
        h = z > T(0) ? z : T(0);
        d = z > T(0) ? T(1) : T(0);
    } else if (ACT == LEAKY_RELU) {
        h = z > T(0) ? z : slope * z;
        d = z > T(0) ? T(1) : slope;
    } else {  // TANH
        const T t = T(1) - T(2) / (vexp<T>(T(2) * z) + T(1));
        h = t;
        d = T(1) - t * t;
    }
}

template <typename T, int DIN, int DOUT, int ACT>
static void network(int64_t n, int64_t N, T slope, const T* __restrict__ x,
                    const T* __restrict__ W1, const T* __restrict__ b1, const T* __restrict__ W2,
                    const T* __restrict__ b2, const T* __restrict__ y, const T* __restrict__ w,
                    T* __restrict__ loss, T* __restrict__ gW1, T* __restrict__ gb1,
                    T* __restrict__ gW2, T* __restrict__ gb2, T* __restrict__ buf) {
    T* __restrict__ out = buf;  // (DOUT, n): outputs, then the output gradients
    for (int o = 0; o < DOUT; ++o)
        for (int64_t p = 0; p < n; ++p) out[o * n + p] = b2[o];
    // ---- pass 1: outputs of every point, neuron by neuron
    for (int64_t j = 0; j < N; ++j) {
        T wi[DIN], wo[DOUT];
        for (int k = 0; k < DIN; ++k) wi[k] = W1[k * N + j];
        for (int o = 0; o < DOUT; ++o) wo[o] = W2[j * DOUT + o];
        const T bj = b1[j];
        for (int64_t p = 0; p < n; ++p) {
            T z = bj;
            for (int k = 0; k < DIN; ++k) z += wi[k] * x[k * n + p];
            T h, d;
            activate<T, ACT>(slope, z, h, d);
            for (int o = 0; o < DOUT; ++o) out[o * n + p] += h * wo[o];
        }
    }
    // ---- residuals, loss, output gradients (overwrite the outputs)
    double L = 0.0;
    for (int o = 0; o < DOUT; ++o) {
        T Lo = T(0), gbo = T(0);
        T* __restrict__ g = out + o * n;
        const T* __restrict__ yo = y + o * n;
        const T* __restrict__ wo = w + o * n;
        for (int64_t p = 0; p < n; ++p) {
            const T r = g[p] - yo[p];
            const T wr = wo[p] * r;
            Lo += wr * r;
            g[p] = T(2) * wr;
            gbo += g[p];
        }
        L += (double)Lo;
        gb2[o] = gbo;
    }
    *loss = (T)L;
    // ---- pass 2: gradients, neuron by neuron, reduced over the points
    for (int64_t j = 0; j < N; ++j) {
        T wi[DIN], wo[DOUT], aW1[DIN], aW2[DOUT];
        for (int k = 0; k < DIN; ++k) wi[k] = W1[k * N + j], aW1[k] = T(0);
        for (int o = 0; o < DOUT; ++o) wo[o] = W2[j * DOUT + o], aW2[o] = T(0);
        const T bj = b1[j];
        T ab1 = T(0);
        for (int64_t p = 0; p < n; ++p) {
            T z = bj;
            for (int k = 0; k < DIN; ++k) z += wi[k] * x[k * n + p];
            T h, d;
            activate<T, ACT>(slope, z, h, d);
            T gh = T(0);
            for (int o = 0; o < DOUT; ++o) {
                const T go = out[o * n + p];
                gh += go * wo[o];
                aW2[o] += h * go;
            }
            const T gz = gh * d;
            ab1 += gz;
            for (int k = 0; k < DIN; ++k) aW1[k] += gz * x[k * n + p];
        }
        gb1[j] = ab1;
        for (int k = 0; k < DIN; ++k) gW1[k * N + j] = aW1[k];
        for (int o = 0; o < DOUT; ++o) gW2[j * DOUT + o] = aW2[o];
    }
}

template <typename T, int DIN, int DOUT, int ACT>
static void run(int64_t G, int64_t n, int64_t N, T slope, int x_per_net, const T* x,
                const T* W1, const T* b1, const T* W2, const T* b2, const T* y, const T* w,
                T* loss, T* gW1, T* gb1, T* gW2, T* gb2, int threads) {
    const int64_t sx = x_per_net ? n * DIN : 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && G > 1 && G * n * N > 65536)
    {
        std::vector<T> buf((size_t)DOUT * n);
#pragma omp for schedule(static)
        for (int64_t g = 0; g < G; ++g) {
            network<T, DIN, DOUT, ACT>(n, N, slope, x + g * sx, W1 + g * DIN * N, b1 + g * N,
                                  W2 + g * N * DOUT, b2 + g * DOUT, y + g * DOUT * n,
                                  w + g * DOUT * n, loss + g, gW1 + g * DIN * N, gb1 + g * N,
                                  gW2 + g * N * DOUT, gb2 + g * DOUT, buf.data());
        }
    }
}

template <typename T>
static int dispatch(int64_t G, int64_t n, int64_t N, int64_t d_in, int64_t d_out, int act,
                    T slope, int x_per_net, const T* x, const T* W1, const T* b1, const T* W2,
                    const T* b2, const T* y, const T* w, T* loss, T* gW1, T* gb1, T* gW2,
                    T* gb2, int threads) {
#define CASE(A, B, C)                                                                       \
    if (d_in == A && d_out == B && act == C) {                                                \
        run<T, A, B, C>(G, n, N, slope, x_per_net, x, W1, b1, W2, b2, y, w, loss, gW1, gb1, gW2, \
                        gb2, threads);                                                      \
        return 0;                                                                           \
    }
#define ACTS(A, B) CASE(A, B, SILU) CASE(A, B, RELU) CASE(A, B, LEAKY_RELU) CASE(A, B, TANH)
    ACTS(1, 1) ACTS(2, 1) ACTS(3, 1) ACTS(4, 1) ACTS(1, 2) ACTS(2, 2)
    // wider inputs (the random-feature teachers of chapters 2 and 4): ReLU and SiLU only, to
    // keep the build short
    CASE(5, 1, RELU) CASE(6, 1, RELU) CASE(7, 1, RELU) CASE(8, 1, RELU)
    CASE(5, 1, SILU) CASE(6, 1, SILU) CASE(7, 1, SILU) CASE(8, 1, SILU)
#undef ACTS
#undef CASE
    return 1;  // dimensions without an instantiation: the caller uses another backend
}

}  // namespace

extern "C" {
// whether this build has an instantiation for (d_in, d_out, act), for the Python side: asked of
// dispatch itself with no networks, so the list of instantiations is written once
int fused_mlp1_supports(int64_t d_in, int64_t d_out, int act) {
    return dispatch<float>(0, 0, 0, d_in, d_out, act, 0.0f, 0, nullptr, nullptr, nullptr, nullptr,
                           nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                           1) == 0;
}

int fused_mlp1_f32(int64_t G, int64_t n, int64_t N, int64_t d_in, int64_t d_out, int act,
                   float slope, int x_per_net, const float* x, const float* W1, const float* b1,
                   const float* W2, const float* b2, const float* y, const float* w, float* loss,
                   float* gW1, float* gb1, float* gW2, float* gb2, int threads) {
    return dispatch<float>(G, n, N, d_in, d_out, act, slope, x_per_net, x, W1, b1, W2, b2, y, w,
                           loss, gW1, gb1, gW2, gb2, threads);
}

int fused_mlp1_f64(int64_t G, int64_t n, int64_t N, int64_t d_in, int64_t d_out, int act,
                   double slope, int x_per_net, const double* x, const double* W1,
                   const double* b1, const double* W2, const double* b2, const double* y,
                   const double* w, double* loss, double* gW1, double* gb1, double* gW2,
                   double* gb2, int threads) {
    return dispatch<double>(G, n, N, d_in, d_out, act, slope, x_per_net, x, W1, b1, W2, b2, y,
                            w, loss, gW1, gb1, gW2, gb2, threads);
}
}
