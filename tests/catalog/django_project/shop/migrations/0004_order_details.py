from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_order")]
    operations = [
        migrations.AddField(model_name="order", name="details", field=models.JSONField(default=dict)),
    ]
