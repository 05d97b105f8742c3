/* jpeg_write.c: see jpeg_write.h. */
#include "image/jpeg_write.h"

#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>


typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; char msg[JMSG_LENGTH_MAX]; } jw_err;

static void jw_error_exit(j_common_ptr c)
{
    jw_err *e = (jw_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

int jpeg_write_rgb8(FILE *f, const unsigned char *rgb, int w, int h, int quality, char *err, size_t errlen)
{
    struct jpeg_compress_struct cinfo;
    jw_err je;
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jw_error_exit;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&cinfo);
        snprintf(err, errlen, "expected to encode a JPEG, found an error: %s", je.msg);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (ferror(f)) {
        snprintf(err, errlen, "expected to write a JPEG, found a write error");
        return -1;
    }
    return 0;
}
