"""Each cart keeps its session's traffic channel, so a channel's abandoned carts (the insight sentences'
recovery week, the carts page's recovery list) are read from the carts' index alone instead of one session
lookup a cart. Existing carts take their session's channel."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_customer_merged_into'),
        ('insights', '0023_channel_people_first_touch'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='cart',
            name='insights_cart_state_closed_idx',
        ),
        migrations.AddField(
            model_name='cart',
            name='channel',
            field=models.CharField(db_default='Direct', default='Direct', max_length=20),
        ),
        # the same statement on both databases (the engines' inserts set it from here on)
        migrations.RunSQL(
            "UPDATE insights_cart SET channel = (SELECT s.channel FROM insights_session s"
            " WHERE s.id = insights_cart.session_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name='cart',
            index=models.Index(fields=['state', 'closed_at'], include=('customer', 'revenue_left', 'age_group', 'channel'), name='insights_cart_state_closed_idx'),
        ),
    ]
