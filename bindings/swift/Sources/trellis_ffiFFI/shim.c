// SwiftPM needs one source file in a C target; the API is the generated header in include/.
#include "trellis_ffiFFI.h"
