package snapshot

import (
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstd settings. Encoder settings fix the output bytes: they must not
// depend on the machine (GOMAXPROCS), or equal input would not give equal
// files.
const (
	// encoderConcurrency 1 compresses on the caller's goroutine. With 2
	// the encoder compressed one block while the caller filled the next,
	// which made a checkpoint or a backup faster but took a second core
	// from the writers: on two cores a running backup cut their commits/s
	// to 0.48x, against 0.66x with 1 (BenchmarkBackup_WriterThroughput in
	// db). Block boundaries depend only on the input, so the output bytes
	// are the same either way.
	encoderConcurrency = 1
	// decoderConcurrency lets the stream decoder decode ahead of the
	// record parser on another goroutine.
	decoderConcurrency = 2
	// poolSize is how many idle encoders and decoders are kept.
	poolSize = 4
	// encoderLevel is zstd's fastest level (about zstd -1). On user
	// records (JSON profiles) it writes about 0.18 of the raw bytes; the
	// stronger levels gain a few hundredths at two to many times the CPU,
	// a poor trade for a file written in the background and read once at
	// Open.
	encoderLevel = zstd.SpeedFastest
)

// Idle zstd encoders and decoders, reused with Reset. A buffered channel
// rather than a sync.Pool: a decoder must be Closed to release its
// resources, which a sync.Pool would drop silently.
var (
	encoderPool = make(chan *zstd.Encoder, poolSize)
	decoderPool = make(chan *zstd.Decoder, poolSize)
)

// getEncoder returns an encoder writing a new stream to w.
func getEncoder(w io.Writer) (*zstd.Encoder, error) {
	select {
	case e := <-encoderPool:
		e.Reset(w)
		return e, nil
	default:
	}
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(encoderLevel),
		zstd.WithEncoderConcurrency(encoderConcurrency),
		// The frame checksum duplicates the footer's CRC32C of the record
		// stream, but costs little and checks the decoder too.
		zstd.WithEncoderCRC(true),
	)
}

// putEncoder returns e, whose stream is finished or abandoned, to the pool.
// Reset waits for its background work and drops the reference to the
// writer; an encoder that does not fit in the pool holds no other resources
// and is left to the garbage collector.
func putEncoder(e *zstd.Encoder) {
	e.Reset(nil)
	select {
	case encoderPool <- e:
	default:
	}
}

// getDecoder returns a decoder reading a new stream from r, accepting
// windows up to maxMemory bytes.
func getDecoder(r io.Reader, maxMemory uint64) (*zstd.Decoder, error) {
	select {
	case d := <-decoderPool:
		if err := d.ResetWithOptions(r, zstd.WithDecoderMaxMemory(maxMemory)); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	default:
	}
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(decoderConcurrency),
		zstd.WithDecoderMaxMemory(maxMemory),
	)
}

// putDecoder stops d's current stream (waiting for its goroutines) and
// returns it to the pool, or closes it when the pool is full.
func putDecoder(d *zstd.Decoder) {
	if err := d.Reset(nil); err != nil {
		d.Close()
		return
	}
	select {
	case decoderPool <- d:
	default:
		d.Close()
	}
}
