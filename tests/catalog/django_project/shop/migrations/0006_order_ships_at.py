from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0005_order_tags_lead_time")]
    operations = [
        migrations.AddField(model_name="order", name="ships_at", field=models.TimeField(null=True)),
    ]
