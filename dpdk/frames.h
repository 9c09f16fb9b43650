/*
 * Pre-built frames sent by copy: a traffic generator prepares its frames
 * ahead in C memory, and each burst is one call that takes fresh mbufs,
 * copies the frames into them and transmits them.
 */
#ifndef VEC_FRAMES_H
#define VEC_FRAMES_H

#include <stdint.h>

struct rte_mempool;

/* The most frames one vec_frames_send call sends. */
#define VEC_FRAMES_BURST 64

/* n slots of stride bytes each, back to back; slot i holds len[i] bytes. */
struct vec_frames {
	uint8_t *buf;
	uint16_t *len;
	uint32_t n;
	uint32_t stride;
};

struct vec_frames *vec_frames_new(uint32_t n, uint32_t stride);
void vec_frames_free(struct vec_frames *f);
/* Copies the count frames from slot first on (wrapping after the last slot)
 * into new mbufs from mp and transmits them on port's queue in one
 * rte_eth_tx_burst; frees those the queue did not take. Returns how many
 * it took, or -errno: -ENOBUFS when mp has too few free mbufs, -EINVAL for a
 * bad range or a frame longer than its slot or an mbuf's room. */
int vec_frames_send(const struct vec_frames *f, struct rte_mempool *mp,
		uint32_t first, uint16_t count, uint16_t port, uint16_t queue);

#endif
