// Fused forward + loss + backward of G one-hidden-layer networks (see scalinglaws/fused.py).
//
// Network g maps x_p (d_in) through z = W1^T x_p + b1, h = act(z), f = W2^T h + b2 and has the
// loss L_g = sum_{p,o} w[g,o,p] (f_o(x_p) - y[g,o,p])^2.  With go = 2 w (f - y):
//   dL/dW2[j,o] = sum_p h_j go_o,  dL/db2 = sum_p go,  gz_j = (sum_o go_o W2[j,o]) act'(z_j),
//   dL/dW1[k,j] = sum_p x_k gz_j,  dL/db1 = sum_p gz.
//
// Data are feature-major (x: d_in x n, y and w: d_out x n), so the vector lanes run over the
// points: every inner loop is a long, unit-stride loop over p, whatever the width N.  The points
// are taken in tiles of TILE; per tile, two passes over the neurons, each in blocks of B
// neurons that share one sweep over the tile's points (one read of x and of the output row per
// block, not per neuron): (1) the outputs of every point, storing the one value of each
// neuron-point from which the activation and its derivative follow cheaply (the sigmoid for
// SiLU, tanh itself; nothing for the ReLUs); (2) the gradients, reduced over the points in
// register accumulators.  Pass 1 never forms the derivative and pass 2 never calls exp or
// divides: one exp and one division per neuron-point in all.  The stored values take
// N x TILE numbers per thread (L2-resident), not the (points x neurons) hidden layer.
//
// Plain C++ (standard headers only), so it compiles in about a second; exp is a branch-free
// polynomial that vectorises (relative error below 2 ulp), so no vector math library is needed.
// Networks are spread over threads with OpenMP.
#include <cmath>
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
    static constexpr int deg = 6, bias = 127, mant = 23;
    using I = int32_t;
};
template <> struct ExpConst<double> {
    static constexpr double lo = -707.0, hi = 708.0;
    static constexpr int deg = 13, bias = 1023, mant = 52;
    using I = int64_t;
};

// e^r on |r| <= ln(2) / 2: for double its Taylor polynomial of degree 13 (truncation below half
// an ulp); for float a near-minimax polynomial of degree 6 (Lawson-iterated least squares of the
// relative error; 1.9e-9 before rounding, 1.6 ulp as evaluated in float), one FMA fewer than
// Taylor's degree 7
template <typename T>
static inline T exp_reduced(T r) {
    constexpr Taylor<T, ExpConst<T>::deg> t{};
    T p = t.c[ExpConst<T>::deg];
    for (int i = ExpConst<T>::deg - 1; i >= 0; --i) p = p * r + t.c[i];
    return p;
}
template <>
inline float exp_reduced<float>(float r) {
    float p = 0.0013836845755577087f;
    p = p * r + 0.008374815806746483f;
    p = p * r + 0.04166822507977486f;
    p = p * r + 0.16666419804096222f;
    p = p * r + 0.49999991059303284f;
    p = p * r + 1.0f;
    return p * r + 1.0f;
}

// exp(x) = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2
template <typename T>
static inline T vexp(T x) {
    using C = ExpConst<T>;
    using I = typename C::I;
    x = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
    const T log2e = T(1.4426950408889634), ln2_hi = T(0.693145751953125),
            ln2_lo = T(1.4286068203094172321e-6);
    const T nf = std::rint(x * log2e);   // round to nearest (one instruction when vectorised)
    const I n = (I)nf;
    const T r = (x - nf * ln2_hi) - nf * ln2_lo;
    T p = exp_reduced<T>(r);
    // p * 2^n by adding n to p's exponent field (p lies in [0.7, 1.5], and the clamp keeps the
    // sum a normal number except for float's last step below 2^-126, where exp is ~1e-38 and
    // every caller adds it to 1)
    I bits;
    std::memcpy(&bits, &p, sizeof(T));
    bits += n << C::mant;
    std::memcpy(&p, &bits, sizeof(T));
    return p;
}

// points per tile: the tile's outputs and the stored activations stay in L1/L2
constexpr int64_t TILE = 512;

template <int ACT>
struct Stores {  // whether pass 1 keeps a value per neuron-point for pass 2
    static constexpr bool value = ACT == SILU || ACT == TANH;
};

// pass 1: h = act(z), and the stored value a (the sigmoid of z for SiLU, tanh(z) for tanh)
template <typename T, int ACT>
static inline T forward(T slope, T z, T& a) {
    if (ACT == SILU) {
        a = T(1) / (T(1) + vexp<T>(-z));
        return z * a;
    } else if (ACT == RELU) {
        return z > T(0) ? z : T(0);
    } else if (ACT == LEAKY_RELU) {
        return z > T(0) ? z : slope * z;
    } else {  // TANH
        a = T(1) - T(2) / (vexp<T>(T(2) * z) + T(1));
        return a;
    }
}

// pass 2: h and the derivative d = act'(z), as autograd computes them, from z and the stored a
template <typename T, int ACT>
static inline void backward(T slope, T z, T a, T& h, T& d) {
    if (ACT == SILU) {
        h = z * a;
        d = a + (h - h * a);   // = s (1 + z (1 - s)), one multiplication fewer
    } else if (ACT == RELU) {
        h = z > T(0) ? z : T(0);
        d = z > T(0) ? T(1) : T(0);
    } else if (ACT == LEAKY_RELU) {
        h = z > T(0) ? z : slope * z;
        d = z > T(0) ? T(1) : slope;
    } else {  // TANH
        h = a;
        d = T(1) - a * a;
    }
}

// pass 1 for neurons j0 .. j0+B-1 over the m points of a tile: out (DOUT, TILE) += their
// contributions; aux (N, TILE) receives their stored values
template <typename T, int DIN, int DOUT, int ACT, int B>
static inline void pass1(int64_t m, int64_t n, int64_t N, int64_t j0, T slope,
                         const T* __restrict__ x, const T* __restrict__ W1,
                         const T* __restrict__ b1, const T* __restrict__ W2,
                         T* __restrict__ out, T* __restrict__ aux) {
    T wi[B][DIN], wo[B][DOUT], bj[B];
    for (int b = 0; b < B; ++b) {
        for (int k = 0; k < DIN; ++k) wi[b][k] = W1[k * N + j0 + b];
        for (int o = 0; o < DOUT; ++o) wo[b][o] = W2[(j0 + b) * DOUT + o];
        bj[b] = b1[j0 + b];
    }
    T* __restrict__ ab = aux + j0 * TILE;
    for (int64_t p = 0; p < m; ++p) {
        T xs[DIN];
        for (int k = 0; k < DIN; ++k) xs[k] = x[k * n + p];
        T acc[DOUT];
        for (int o = 0; o < DOUT; ++o) acc[o] = T(0);
        for (int b = 0; b < B; ++b) {
            T z = bj[b];
            for (int k = 0; k < DIN; ++k) z += wi[b][k] * xs[k];
            T a = T(0);
            const T h = forward<T, ACT>(slope, z, a);
            if (Stores<ACT>::value) ab[b * TILE + p] = a;
            for (int o = 0; o < DOUT; ++o) acc[o] += h * wo[b][o];
        }
        for (int o = 0; o < DOUT; ++o) out[o * TILE + p] += acc[o];
    }
}

// pass 2 for neurons j0 .. j0+B-1: their gradients over the tile, added to gW1, gb1, gW2
template <typename T, int DIN, int DOUT, int ACT, int B>
static inline void pass2(int64_t m, int64_t n, int64_t N, int64_t j0, T slope,
                         const T* __restrict__ x, const T* __restrict__ W1,
                         const T* __restrict__ b1, const T* __restrict__ W2,
                         const T* __restrict__ go, const T* __restrict__ aux,
                         T* __restrict__ gW1, T* __restrict__ gb1, T* __restrict__ gW2) {
    T wi[B][DIN], wo[B][DOUT], bj[B], aW1[B][DIN], aW2[B][DOUT], ab1[B];
    for (int b = 0; b < B; ++b) {
        for (int k = 0; k < DIN; ++k) wi[b][k] = W1[k * N + j0 + b], aW1[b][k] = T(0);
        for (int o = 0; o < DOUT; ++o) wo[b][o] = W2[(j0 + b) * DOUT + o], aW2[b][o] = T(0);
        bj[b] = b1[j0 + b];
        ab1[b] = T(0);
    }
    const T* __restrict__ ab = aux + j0 * TILE;
    for (int64_t p = 0; p < m; ++p) {
        T xs[DIN], g[DOUT];
        for (int k = 0; k < DIN; ++k) xs[k] = x[k * n + p];
        for (int o = 0; o < DOUT; ++o) g[o] = go[o * TILE + p];
        for (int b = 0; b < B; ++b) {
            T z = bj[b];
            for (int k = 0; k < DIN; ++k) z += wi[b][k] * xs[k];
            T h, d;
            backward<T, ACT>(slope, z, Stores<ACT>::value ? ab[b * TILE + p] : T(0), h, d);
            T gh = T(0);
            for (int o = 0; o < DOUT; ++o) {
                gh += g[o] * wo[b][o];
                aW2[b][o] += h * g[o];
            }
            const T gz = gh * d;
            ab1[b] += gz;
            for (int k = 0; k < DIN; ++k) aW1[b][k] += gz * xs[k];
        }
    }
    for (int b = 0; b < B; ++b) {
        gb1[j0 + b] += ab1[b];
        for (int k = 0; k < DIN; ++k) gW1[k * N + j0 + b] += aW1[b][k];
        for (int o = 0; o < DOUT; ++o) gW2[(j0 + b) * DOUT + o] += aW2[b][o];
    }
}

// neurons per block: as many as the registers hold for the block's weights and accumulators
template <int DIN, int DOUT>
struct Block {
    static constexpr int value = DIN + DOUT <= 3 ? 4 : 2;
};

template <typename T, int DIN, int DOUT, int ACT>
static void network(int64_t n, int64_t N, T slope, const T* __restrict__ x,
                    const T* __restrict__ W1, const T* __restrict__ b1, const T* __restrict__ W2,
                    const T* __restrict__ b2, const T* __restrict__ y, const T* __restrict__ w,
                    T* __restrict__ loss, T* __restrict__ gW1, T* __restrict__ gb1,
                    T* __restrict__ gW2, T* __restrict__ gb2, T* __restrict__ buf) {
    constexpr int B = Block<DIN, DOUT>::value;
    T* __restrict__ out = buf;                 // (DOUT, TILE): outputs, then output gradients
    T* __restrict__ aux = buf + DOUT * TILE;   // (N, TILE): pass 1's stored values
    const int64_t NB = N - N % B;
    for (int64_t i = 0; i < DIN * N; ++i) gW1[i] = T(0);
    for (int64_t i = 0; i < N; ++i) gb1[i] = T(0);
    for (int64_t i = 0; i < N * DOUT; ++i) gW2[i] = T(0);
    double L = 0.0;
    double gb[DOUT];
    for (int o = 0; o < DOUT; ++o) gb[o] = 0.0;
    for (int64_t p0 = 0; p0 < n; p0 += TILE) {
        const int64_t m = n - p0 < TILE ? n - p0 : TILE;
        const T* xt = x + p0;
        for (int o = 0; o < DOUT; ++o)
            for (int64_t p = 0; p < m; ++p) out[o * TILE + p] = b2[o];
        // ---- pass 1: outputs of the tile's points, B neurons at a time
        int64_t j = 0;
        for (; j < NB; j += B) pass1<T, DIN, DOUT, ACT, B>(m, n, N, j, slope, xt, W1, b1, W2, out, aux);
        for (; j < N; ++j) pass1<T, DIN, DOUT, ACT, 1>(m, n, N, j, slope, xt, W1, b1, W2, out, aux);
        // ---- residuals, loss, output gradients (overwrite the outputs)
        for (int o = 0; o < DOUT; ++o) {
            T Lo = T(0), gbo = T(0);
            T* __restrict__ g = out + o * TILE;
            const T* __restrict__ yo = y + o * n + p0;
            const T* __restrict__ wo = w + o * n + p0;
            for (int64_t p = 0; p < m; ++p) {
                const T r = g[p] - yo[p];
                const T wr = wo[p] * r;
                Lo += wr * r;
                g[p] = T(2) * wr;
                gbo += g[p];
            }
            L += (double)Lo;
            gb[o] += (double)gbo;
        }
        // ---- pass 2: gradients, B neurons at a time, reduced over the tile's points
        j = 0;
        for (; j < NB; j += B)
            pass2<T, DIN, DOUT, ACT, B>(m, n, N, j, slope, xt, W1, b1, W2, out, aux, gW1, gb1, gW2);
        for (; j < N; ++j)
            pass2<T, DIN, DOUT, ACT, 1>(m, n, N, j, slope, xt, W1, b1, W2, out, aux, gW1, gb1, gW2);
    }
    *loss = (T)L;
    for (int o = 0; o < DOUT; ++o) gb2[o] = (T)gb[o];
}

template <typename T, int DIN, int DOUT, int ACT>
static void run(int64_t G, int64_t n, int64_t N, T slope, int x_per_net, const T* x,
                const T* W1, const T* b1, const T* W2, const T* b2, const T* y, const T* w,
                T* loss, T* gW1, T* gb1, T* gW2, T* gb2, int threads) {
    const int64_t sx = x_per_net ? n * DIN : 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && G > 1 && G * n * N > 65536)
    {
        std::vector<T> buf((size_t)(DOUT + (Stores<ACT>::value ? N : 0)) * TILE);
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
