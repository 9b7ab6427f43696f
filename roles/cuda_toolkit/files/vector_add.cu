// Installed by labops.dlstack.cuda_toolkit: the smallest CUDA program that proves a toolkit works.
// Adds two arrays on the GPU and checks the result on the CPU.
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

__global__ void add(int n, const float *a, const float *b, float *c) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

#define CHECK(call) do { cudaError_t e = (call); if (e != cudaSuccess) { \
  printf("vector_add: FAIL %s: %s\n", #call, cudaGetErrorString(e)); return 1; } } while (0)

int main() {
  const int n = 1 << 20;
  const size_t bytes = n * sizeof(float);
  float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c = (float *)malloc(bytes);
  for (int i = 0; i < n; ++i) { a[i] = 1.0f * i; b[i] = 2.0f * i; }
  float *da, *db, *dc;
  CHECK(cudaMalloc(&da, bytes));
  CHECK(cudaMalloc(&db, bytes));
  CHECK(cudaMalloc(&dc, bytes));
  CHECK(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice));
  add<<<(n + 255) / 256, 256>>>(n, da, db, dc);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    if (c[i] != 3.0f * i) { printf("vector_add: FAIL c[%d] = %f, expected %f\n", i, c[i], 3.0f * i); return 1; }
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  int runtime = 0;
  CHECK(cudaRuntimeGetVersion(&runtime));
  printf("vector_add: PASS n=%d on %s (sm_%d%d), CUDA runtime %d.%d\n", n, prop.name, prop.major, prop.minor,
         runtime / 1000, (runtime % 1000) / 10);
  cudaFree(da); cudaFree(db); cudaFree(dc); free(a); free(b); free(c);
  return 0;
}
