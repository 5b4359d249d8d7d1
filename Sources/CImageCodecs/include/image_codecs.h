#ifndef FUSIONKIT_IMAGE_CODECS_H
#define FUSIONKIT_IMAGE_CODECS_H
/* Placeholder: the image helper fills this in. */
#endif
