/* Pieces of the AVX-512 Q8_0/Q4_0 kernels and the prefetch distance of
 * the k-quant kernels (the AVX2 Q8_0/Q4_0 kernels, 8 rows per lane, use
 * none of it): included by the SIMD files only; the AVX2-targeted function
 * inlines into AVX-512 callers (a subset of their ISA). */
#ifndef MRT_KERNELS_Q8_H
#define MRT_KERNELS_Q8_H

#include <immintrin.h>
#include <stdint.h>

#include "mrt_gguf.h"

/* Software prefetch distance in bytes of W: the hardware prefetchers alone
 * leave the int8 kernels at about half the memory bandwidth on a decode
 * step (M = 1), which reads each weight once. 2 KiB ahead was best of
 * 1-16 KiB for the row stream on AVX2 hosts measured (tests/bench). */
#define MRT__W_PREFETCH 2048

/* A tile that reads `tile` bytes of W rows side by side prefetches the same
 * offset whole tiles on: the first multiple of tile at MRT__W_PREFETCH or
 * beyond. */
static inline size_t mrt__tile_prefetch(size_t tile)
{
	return (MRT__W_PREFETCH + tile - 1) / tile * tile;
}

/* Block b of a Q8_0 or Q4_0 weight row as 32 signed int8 and its scale. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
mrt__q8_wblock(int wtype, const uint8_t *row, int64_t b, float *d)
{
	if (wtype == MRT_TYPE_Q8_0) {
		const uint8_t *blk = row + (size_t)b * 34;
		*d = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
		return _mm256_loadu_si256((const __m256i *)(blk + 2));
	}
	const uint8_t *blk = row + (size_t)b * 18;
	*d = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
	/* the 16 bytes in both lanes, the high lane shifted down a nibble */
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
	v = _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)),
			     _mm256_set1_epi8(0x0f));
	return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

#endif
